#ifndef CK8SENV_BUILD_INFO_H
#define CK8SENV_BUILD_INFO_H

/// What scripts/release.sh stamped into this build (Package.swift turns its K8SENV_BUILD_*
/// environment variables into -D defines of this target); "" when it was not set, as in a build
/// from source.
const char *k8senv_build_version(void);
const char *k8senv_build_commit(void);
const char *k8senv_build_swift_version(void);
const char *k8senv_build_date(void);

#endif
