#!/usr/bin/env python3
"""Screenshots of the main journeys into docs/screenshots/ (devtools/screenshots.py says how):

.venv/bin/python scripts/screenshots.py [--out DIR] [--keep-data]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.screenshots import main

if __name__ == "__main__":
    sys.exit(main())
