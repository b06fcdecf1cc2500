"""The example application of the schemas in ``schemas/``: its hooks and the demo.

It lives outside the generator so that the generated example packages
(``exercise_sync``, ``presence_sync``) import only the runtime and this application code,
as a user's generated packages import only the runtime and the user's own modules:

* :mod:`entanglegen_examples.hooks`: the policy, handler and codec functions the example
  schemas name by dotted path;
* :mod:`entanglegen_examples.demo`: two exercise nodes converging over TLS
  (``entanglegen demo``).

Nothing here imports :mod:`entanglegen`.
"""
