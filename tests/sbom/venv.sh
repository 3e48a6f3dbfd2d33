#!/usr/bin/env bash
# Makes the Python virtualenv whose tools validate regraft's SBOMs (tests/sbom/validate.py):
# cyclonedx-python-lib (the CycloneDX JSON schema validator), spdx-tools (what `pyspdxtools -i`
# runs), packageurl-python and sarif-tools (Microsoft's SARIF reader, for `triage --sarif`), pinned,
# from PyPI. Idempotent: a no-op when the venv has them.
# Prints nothing on success; the tests find it at target/sbom-venv (or $REGRAFT_TEST_SBOM_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/sbom-venv
pins=(cyclonedx-python-lib[json-validation]==8.5.0 spdx-tools==0.8.3 packageurl-python==0.16.0 sarif-tools==3.0.4)
stamp="$venv/.pins"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
  exit 0
fi
bash tests/need-debs.sh python3-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" >"$stamp"
