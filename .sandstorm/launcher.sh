#!/bin/bash
# vagrant-spk's grain entry point (the package's command runs it on every grain start).
# The real launcher is the repository's own, which runs the same way on a laptop.
exec /bin/bash /opt/app/launcher.sh
