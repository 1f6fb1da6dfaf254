// Command runsummary prints one line per script run from the JSON results of the mlswg
// interop test-runner (read from the file named by its argument, or stdin) and exits
// non-zero when any run failed. interop/run.sh uses it, so CI needs no jq.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type result struct {
	CipherSuite    uint32            `json:"cipher_suite"`
	Actors         map[string]string `json:"actors"`
	EncryptFlag    bool              `json:"encrypt_flag"`
	Error          any               `json:"error"`
	FailedStep     *int              `json:"failed_step"`
	FailedStepJSON string            `json:"failed_step_json"`
}

type results struct {
	Scripts map[string][]result `json:"scripts"`
}

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "runsummary:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	var in io.Reader = stdin
	label := ""
	if len(args) > 0 {
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if len(args) > 1 {
		label = args[1] + " "
	}
	var r results
	dec := json.NewDecoder(in)
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("decode runner results: %w", err)
	}
	names := make([]string, 0, len(r.Scripts))
	for n := range r.Scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	pass, fail := 0, 0
	for _, n := range names {
		p, f := 0, 0
		var firstErr string
		for _, res := range r.Scripts[n] {
			if res.FailedStep == nil {
				p++
				continue
			}
			f++
			if firstErr == "" {
				firstErr = fmt.Sprintf("suite %d encrypt=%v step %d %s: %v", res.CipherSuite, res.EncryptFlag, *res.FailedStep, strings.Join(strings.Fields(res.FailedStepJSON), " "), res.Error)
			}
		}
		pass += p
		fail += f
		status := "PASS"
		if f > 0 || p == 0 {
			status = "FAIL"
		}
		fmt.Fprintf(stdout, "%s %s%s: %d passed, %d failed\n", status, label, n, p, f)
		if firstErr != "" {
			fmt.Fprintf(stdout, "    first failure: %s\n", firstErr)
		}
	}
	if fail > 0 || pass == 0 {
		return fmt.Errorf("%s%d runs passed, %d failed", label, pass, fail)
	}
	return nil
}
