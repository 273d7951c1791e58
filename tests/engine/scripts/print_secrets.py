"""Prints its secret param and secret env value (a careless script), then sleeps --seconds."""

import argparse
import json
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--db_password", default="")
parser.add_argument("--seconds", type=float, default=0.0)
args, _ = parser.parse_known_args()
with open(os.environ["PADDLECTL_PARAMS_FILE"], encoding="utf-8") as handle:
    from_file = json.load(handle)
print(f"password from argv: {args.db_password}", flush=True)
print(f"password from the params file: {from_file['db_password']}", flush=True)
print(f"token from env: {os.environ.get('API_TOKEN', '')}", flush=True)
print("ready", flush=True)
time.sleep(args.seconds)
print("done", flush=True)
