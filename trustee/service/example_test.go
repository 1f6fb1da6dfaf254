package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/daylight-im/daylight/trustee"
	"github.com/daylight-im/daylight/trustee/service"
)

// A trustee's key store: keys are durable when PutPeriodKey returns, and a
// destroyed key is gone for good.
func ExampleFileStore() {
	dir, _ := os.MkdirTemp("", "trustee-store")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, _ := service.OpenFileStore(dir)
	s.PutPeriodKey(ctx, 7, make([]byte, 32))
	s.DestroyPeriodKey(ctx, 7)
	_, err := s.PeriodKey(ctx, 7)
	fmt.Println(errors.Is(err, trustee.ErrKeyDestroyed))
	fmt.Println(errors.Is(s.PutPeriodKey(ctx, 7, make([]byte, 32)), trustee.ErrKeyDestroyed))
	// Output:
	// true
	// true
}
