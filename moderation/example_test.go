package moderation_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/daylight-im/daylight/moderation"
)

// The bootstrap command SRV exposes as `daylightd moderator add`: the
// password is the first line of stdin.
func ExampleModeratorCommand() {
	st := moderation.NewMemStore() // daylightd: sqlitestore.Open(ctx, dataDir+"/moderation.db")
	err := moderation.ModeratorCommand(context.Background(), st,
		[]string{"add", "--name", "ana", "--role", "admin"}, strings.NewReader("correct horse battery staple\n"), os.Stdout)
	if err != nil {
		fmt.Println(err)
	}
	// Output: moderator ana added with role admin
}
