package moderation_test

import (
	"testing"

	"github.com/daylight-im/daylight/moderation"
	"github.com/daylight-im/daylight/moderation/moderationtest"
)

func TestMemStoreConformance(t *testing.T) {
	moderationtest.RunStore(t, func(*testing.T) moderation.Store { return moderation.NewMemStore() })
}
