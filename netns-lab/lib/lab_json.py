"""lab_json of lib.sh: evaluates a Python expression over the JSON document on
stdin (bound to d) and prints it; None -> null, bools -> true/false.

  lab_json.py EXPR
"""
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(json.dumps(v) if isinstance(v, (bool, type(None), list, dict)) else v)
