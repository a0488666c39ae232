"""Dependency vulnerability gate for .ci/run: pip-audit, proven able to see first.

pip-audit reports "no known vulnerabilities" when it cannot reach an advisory
database (every package is skipped and it still exits 0). So a canary with
known advisories is audited first, on each vulnerability service in turn:

- canary flagged   -> audit the frozen project environment with that service and
                      fail on any finding;
- canary not flagged anywhere -> print "dependency scan unavailable — skipped:
                      <reason>" and pass, visibly.

Usage: python depscan.py REQUIREMENTS_FILE   (pinned, e.g. `pip freeze --exclude-editable`)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CANARY = "requests==2.19.0"  # CVE-2018-18074 and later advisories
SERVICES = ("pypi", "osv")
TIMEOUT = 300


def audit(requirements: Path, service: str) -> tuple[int, dict | None, str]:
    cmd = [
        sys.executable,
        "-m",
        "pip_audit",
        "-r",
        str(requirements),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
        "-s",
        service,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return -1, None, f"{service}: no answer within {TIMEOUT} s"
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    return done.returncode, report, lines[-1][:300] if lines else ""


def findings(report: dict | None) -> list[tuple[str, str, list[str]]]:
    found = []
    for dep in (report or {}).get("dependencies", []):
        ids = [v.get("id", "?") for v in dep.get("vulns", [])]
        if ids:
            found.append((dep["name"], dep.get("version", "?"), ids))
    return found


def skip_reasons(report: dict | None, stderr: str) -> str:
    reasons = [d.get("skip_reason", "") for d in (report or {}).get("dependencies", []) if d.get("skip_reason")]
    reason = reasons[0] if reasons else (stderr or "no advisory returned")
    # Keep the reason short and free of service host names: the kind of failure is enough.
    reason = reason.splitlines()[-1] if reason.strip() else reason
    return re.sub(r"\(.*", "", reason).strip()[:160] or "no advisory returned"


def main(requirements: str) -> int:
    reasons = []
    with tempfile.TemporaryDirectory() as tmp:
        canary = Path(tmp) / "canary.txt"
        canary.write_text(CANARY + "\n")
        for service in SERVICES:
            code, report, stderr = audit(canary, service)
            if findings(report):
                break
            reasons.append(f"{service}: canary {CANARY} not flagged ({skip_reasons(report, stderr)})")
        else:
            print("dependency scan unavailable — skipped: " + "; ".join(reasons))
            return 0
    print(f"canary {CANARY} flagged by the {service} service: the scan can see; auditing our dependencies")
    code, report, stderr = audit(Path(requirements), service)
    bad = findings(report)
    for name, version, ids in bad:
        print(f"VULNERABLE {name}=={version}: {', '.join(ids)}")
    if bad:
        return 1
    if code != 0:
        print(f"pip-audit failed: {stderr}")
        return 1
    audited = len((report or {}).get("dependencies", []))
    print(f"no known vulnerabilities in {audited} installed packages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
