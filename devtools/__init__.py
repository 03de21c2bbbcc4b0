"""Tools for the local stack and the tests (never packaged into the Lambda)."""
