package group

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs f(0..n-1) on up to GOMAXPROCS goroutines and returns the
// error of the lowest index that failed (so the result does not depend on
// scheduling). It is for independent public-key work: signature checks of
// many KeyPackages or tree leaves, Welcome encryptions to many joiners.
func parallelFor(n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = f(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
