"""The served process's heap: what importing and building the app left alive is moved out of
the collector's reach before the first request.

Why: the cyclic collector's oldest generation is swept now and then under load, and each
sweep walked every object the imports and the app's construction made (FastAPI's routes and
models, SQLAlchemy's mappers, Pydantic's validators, the locale catalogues): a pause of tens
of milliseconds on the event loop's thread, with every request in the process waiting
behind it. At ten connections about one request in a hundred met one, which was the whole
of the 99th percentile (docs/performance.md). ``gc.freeze`` puts those objects in the
permanent generation, so that a sweep walks only what serving created since. It is for a
serving process only: frozen objects are never collected, so a process that builds many apps
(the tests) must not call it.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect what construction left as garbage, then freeze the rest (see the module)."""
    gc.collect()
    gc.freeze()
