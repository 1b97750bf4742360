"""``python -m gapstudy.studies.port.check '<config as JSON>'``: refuse a bad port before any job (exit 2, one line).

The workflow's ``onstart`` runs it in a fresh process (``diagnose.check``: the entry points, the data,
both models' shapes, the layer mapping and two steps of the user's loop); nothing is written.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv=None) -> int:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from gapstudy.config import ConfigError
    from gapstudy.studies.port import diagnose, spec

    config = json.loads((argv or sys.argv[1:])[0])
    try:
        diagnose.check(spec.validate(config))
    except ConfigError as error:
        print(str(error))
        return 2
    print("the port is ready: entry points, data, shapes, mapping and two steps of the loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
