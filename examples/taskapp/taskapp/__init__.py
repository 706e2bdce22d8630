# SPDX-License-Identifier: MIT
"""taskapp: the sbx reference app (FastAPI + SQLite); see examples/taskapp/README.md."""
