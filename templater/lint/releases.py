"""The releases of the Coder provider (registry.terraform.io/coder/coder), from the tags of
github.com/coder/terraform-provider-coder up to v2.17.0 (2026-05-13), pre-releases included: a
constraint may name one exactly. Add new releases at the end; a lock file may name a newer one
than this list knows, and is linted with the newest rules."""

from __future__ import annotations

from templater.engine.versions import Version

_TAGS = """
    0.1.0 0.2.0 0.2.1 0.3.0 0.3.1 0.3.2 0.3.3 0.3.4 0.4.0 0.4.1 0.4.2 0.4.3 0.4.4 0.4.5
    0.4.6 0.4.7 0.4.8 0.4.9 0.4.10 0.4.11 0.4.12 0.4.13 0.4.14 0.4.15 0.5.0-pre 0.5.0 0.5.1
    0.5.2 0.5.3 0.6.0 0.6.1 0.6.2 0.6.3 0.6.4 0.6.5 0.6.6 0.6.7 0.6.8 0.6.9 0.6.10 0.6.11
    0.6.12 0.6.13 0.6.14 0.6.15 0.6.16 0.6.17 0.6.18-rc 0.6.18-rc1 0.6.18-rc2 0.6.18-rc3
    0.6.18 0.6.19 0.6.20 0.6.21 0.6.22 0.6.23 0.7.0-rc0 0.7.0 0.8.0 0.8.1 0.8.2 0.8.3 0.9.0
    0.10.0 0.11.0 0.11.1 0.11.2 0.12.0 0.12.1 0.12.2 0.12.3 0.12.4 0.13.0 0.14.0 0.14.1
    0.14.2 0.15.0 0.16.0 0.17.0 0.18.0 0.19.0 0.20.0 0.20.1 0.21.0 0.22.0 0.23.0 1.0.0 1.0.1
    1.0.2 1.0.3 1.0.4 2.0.0-rc.1 2.0.0-rc.2 2.0.0-rc.3 2.0.0-rc.4 2.0.1 2.0.2 2.1.0 2.1.1
    2.1.2 2.1.3 2.2.0-pre0 2.2.0-pre1 2.2.0-pre2 2.2.0 2.3.0-pre0 2.3.0-pre1 2.3.0-pre2
    2.3.0 2.4.0-pre0 2.4.0-pre1 2.4.0 2.4.1 2.4.2 2.5.0 2.5.1 2.5.2 2.5.3 2.6.0 2.7.0 2.8.0
    2.9.0 2.10.0 2.10.1 2.11.0 2.12.0-pre0 2.12.0 2.13.0-pre0 2.13.0 2.13.1 2.14.0 2.15.0
    2.16.0-pre0 2.16.0 2.17.0
"""

RELEASES: tuple[Version, ...] = tuple(sorted(Version.parse(tag) for tag in _TAGS.split()))
NEWEST: Version = max(version for version in RELEASES if not version.prerelease)
