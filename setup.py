"""Build hook: ship the zoo's YAML files (``zoo_configs/`` at the repository root) inside the
package as ``ganzoo.zoo_configs``. Everything else is declared in setup.cfg.

Why not ``package_dir = ganzoo.zoo_configs = zoo_configs`` in setup.cfg: with any mapping besides
``"" = src``, ``pip install -e .`` installs setuptools' import hook instead of a plain ``.pth``
holding ``src/``, and the hook loses to a folder named ``ganzoo`` in the working directory (the
root of a clone, seen as an empty namespace package). An editable install reads
``zoo_configs/`` in the checkout directly (``ganzoo.registry.config_dir``).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONFIGS = Path(__file__).resolve().parent / "zoo_configs"


def config_files() -> list[Path]:
    files = sorted(CONFIGS.glob("*.yaml"))
    if not files:
        raise SystemExit(f"setup.py: no zoo_configs/*.yaml next to setup.py ({CONFIGS}): the package "
                         "would ship without its registry. Build from a full checkout or sdist.")
    return [CONFIGS / "__init__.py", *files]


class BuildPyWithConfigs(build_py):
    """``build_py`` that also copies zoo_configs/{__init__.py,*.yaml} to ganzoo/zoo_configs/."""

    def _config_targets(self) -> dict[Path, Path]:
        target = Path(self.build_lib, "ganzoo", "zoo_configs")
        return {source: target / source.name for source in config_files()}

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads zoo_configs/ in place
            return
        for source, target in self._config_targets().items():
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(t) for t in self._config_targets().values()]


setup(cmdclass={"build_py": BuildPyWithConfigs})
