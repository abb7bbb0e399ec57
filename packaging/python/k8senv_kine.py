"""``k8senv-kine`` of the k8senv wheel.

The wheel carries one binary, ``k8senv``, which is the store (kine's command line) when it runs
under the name ``k8senv-kine``, as the release tarball's link runs it. A wheel cannot hold a link,
so this console script runs that binary, from the same ``bin/`` folder, under that name.
"""

import os
import sys
import sysconfig


def main() -> None:
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    for folder in (here, sysconfig.get_path("scripts")):
        k8senv = os.path.join(folder, "k8senv")
        if os.path.isfile(k8senv) and os.access(k8senv, os.X_OK):
            os.execv(k8senv, ["k8senv-kine"] + sys.argv[1:])
    sys.exit(f"k8senv-kine: no k8senv binary beside it in {here} (reinstall the k8senv wheel)")
