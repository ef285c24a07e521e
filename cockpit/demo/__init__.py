"""The simulated production that `cockpit demo` and the tests run against."""
