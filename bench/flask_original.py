"""A reproduction of the Flask service that sre-kata replaces, for the
benchmark baseline. It keeps the original's behaviour on purpose: an O(n^2)
count, a text/html sentence that echoes the input (the reflected-XSS hole),
and a 500 when `param` is missing or shorter than two characters.
Do not deploy it."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/query")
def query():
    param = request.args.get("param")
    repeated = []
    for c in param:
        if param.count(c) > 1 and c not in repeated:
            repeated.append(c)
    if len(param) < 2:
        raise ValueError("param is too short")
    return f"<p>The string {param} has {len(repeated)} repeated characters.</p>"
