"""moto_server with DynamoDB requests applied one at a time.

moto's server handles each request on its own thread and does not lock its
DynamoDB backend, so two concurrent conditional writes can both pass their
conditions. DynamoDB applies each request atomically (a conditional write,
a transaction), so the voxdial tests run moto with this lock around the
DynamoDB requests; SQS long polls and S3 stay concurrent.

Usage: python -c "<this file>" HOST PORT
"""

import os
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
os.environ.setdefault("MOTO_PORT", str(port))
inner = DomainDispatcherApplication(create_backend_app)
dynamodb = threading.Lock()


def app(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
        with dynamodb:
            return list(inner(environ, start_response))
    return inner(environ, start_response)


run_simple(host, port, app, threaded=True, use_reloader=False)
