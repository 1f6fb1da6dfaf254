package client

import "testing"

// TestingOnlyStartServer exposes startServer to the external test package.
func TestingOnlyStartServer(t testing.TB) string { return startServer(t) }
