"""Make Voila in this Python environment fetch nothing from a CDN (run by scripts/setup and binder/postBuild).

1. The kit's Voila page template without CDN stylesheets (voila.json at the root selects it) goes into this
   environment's share/jupyter, where Voila looks for templates: an editable install of pimlab does not copy it.
2. Voila opened through a Jupyter server (JupyterLab's /voila/render/..., as on Binder) loads MathJax from cdnjs
   unless the server's MathJax URL and config are both unset; then it uses the MathJax 3 JupyterLab bundles, as the
   standalone `voila` command does. Merged into this environment's server config (other settings kept).
"""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    templates = Path(sys.prefix, "share", "jupyter", "voila", "templates")
    templates.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "share" / "jupyter" / "voila" / "templates" / "pimlab", templates / "pimlab",
                    dirs_exist_ok=True)
    config_path = Path(sys.prefix, "etc", "jupyter", "jupyter_server_config" + ".json")
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("ServerApp", {}).setdefault("tornado_settings", {}).update(mathjax_url=None, mathjax_config=None)
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config, indent=1) + "\n")


if __name__ == "__main__":
    main()
