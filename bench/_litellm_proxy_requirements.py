"""Print the requirements of LiteLLM's `proxy` extra, one a line, for `make bench`.

`litellm[proxy]==1.110.2` does not resolve: the extra pins `litellm-proxy==1.110.2`, which
has no release. Run by the interpreter of an environment where `litellm` is installed, this
prints the extra's other requirements (markers evaluated for this interpreter), so that pip
can install them beside it; its companion packages `litellm-proxy-extras` and
`litellm-enterprise` are pinned to releases that are not published either, so they are left
unpinned (their newest release).
"""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

SKIPPED = {"litellm-proxy"}  # pinned to a version that was never released
#: Companion packages pinned to releases the index does not have: their newest release.
UNPINNED = {"litellm-proxy-extras", "litellm-enterprise"}


def main() -> None:
    for line in requires("litellm") or []:
        requirement = Requirement(line)
        if requirement.name in SKIPPED or requirement.marker is None:
            continue
        if requirement.marker.evaluate({"extra": "proxy"}) and not requirement.marker.evaluate(
            {"extra": ""}
        ):
            requirement.marker = None
            if requirement.name in UNPINNED:
                requirement.specifier = SpecifierSet()
            print(requirement)


if __name__ == "__main__":
    main()
