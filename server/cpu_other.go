//go:build !unix

package server

func cpuSeconds() float64 { return -1 }
