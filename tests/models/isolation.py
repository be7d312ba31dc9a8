"""What a fresh interpreter imports while it runs a few lines: the fits must not load PyMC or
PyTensor (their imports and graph compilation cost seconds in every worker process)."""

from __future__ import annotations

import ast
import subprocess
import sys


def model_libraries_imported(code: str) -> list[str]:
    """The ``pymc*`` and ``pytensor*`` modules loaded once ``code`` has run in a new process."""
    probe = "\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('pymc', 'pytensor')))\n"
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code + probe],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(ast.literal_eval(out.stdout.strip().splitlines()[-1]))
