package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestCommandsRun(t *testing.T) {
	var got []string
	c := Commands{Tool: "tool", Hint: "tool a --x", List: map[string]Command{
		"a":    {Summary: "first", Run: func(_ context.Context, args []string, _ io.Reader, _, _ io.Writer) error { got = args; return nil }},
		"long": {Summary: "second", Run: nil},
	}}
	var stderr bytes.Buffer
	if err := c.Run(context.Background(), []string{"a", "--x", "1"}, nil, io.Discard, &stderr); err != nil || strings.Join(got, " ") != "--x 1" {
		t.Fatalf("dispatch: err %v args %q", err, got)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{nil, "no command (hint: tool a --x)"},
		{[]string{"-h"}, ""},
		{[]string{"help"}, ""},
		{[]string{"nope"}, `unknown command "nope"`},
	} {
		stderr.Reset()
		err := c.Run(context.Background(), tc.args, nil, io.Discard, &stderr)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q: err %v, want %q", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(stderr.String(), "  a     first\n  long  second\n") {
			t.Errorf("%q: usage not printed in order:\n%s", tc.args, stderr.String())
		}
	}
}
