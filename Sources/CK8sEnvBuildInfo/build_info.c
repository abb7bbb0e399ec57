#include "CK8sEnvBuildInfo.h"

// Defined by Package.swift from scripts/release.sh's environment; a build from source has none.
#ifndef K8SENV_BUILD_VERSION
#define K8SENV_BUILD_VERSION ""
#endif
#ifndef K8SENV_BUILD_COMMIT
#define K8SENV_BUILD_COMMIT ""
#endif
#ifndef K8SENV_BUILD_SWIFT_VERSION
#define K8SENV_BUILD_SWIFT_VERSION ""
#endif
#ifndef K8SENV_BUILD_DATE
#define K8SENV_BUILD_DATE ""
#endif

const char *k8senv_build_version(void) { return K8SENV_BUILD_VERSION; }
const char *k8senv_build_commit(void) { return K8SENV_BUILD_COMMIT; }
const char *k8senv_build_swift_version(void) { return K8SENV_BUILD_SWIFT_VERSION; }
const char *k8senv_build_date(void) { return K8SENV_BUILD_DATE; }
