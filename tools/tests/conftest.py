"""Make the authoring tools in tools/ importable by their tests (``import repo``, ``import bookcheck``).

The tools are scripts run from the repository root (``python tools/repo.py``,
``python tools/bookcheck.py``), not an installed package, so their folder is
put on ``sys.path`` here, exactly as Python does when it runs one of them.
"""

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1]
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))
