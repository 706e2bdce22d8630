#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`taskapp.py COMMAND`: the same as `python3 -m taskapp COMMAND`, from any directory."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "clients", "python")]

from taskapp.cli import main  # noqa: E402

sys.exit(main())
