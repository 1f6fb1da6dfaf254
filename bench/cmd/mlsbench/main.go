// Command mlsbench runs the MLS engine comparison (issue 3, "Speed") for one Go engine
// and prints JSON, or merges the JSON of several engines into one markdown table.
//
//	mlsbench run -engine mlsgo|daylight -sizes 2,100,1000 -reps 3 [-best=false] [-maxbest N] > out.json
//	mlsbench table daylight.json mlsgo.json tsmls.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/daylight-im/daylight/bench/daylight"
	"github.com/daylight-im/daylight/bench/harness"
	"github.com/daylight-im/daylight/bench/mlsgo"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mlsbench:", err)
		os.Exit(1)
	}
}

func run(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: mlsbench run|table ...")
	}
	switch args[0] {
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		engine := fs.String("engine", "daylight", "daylight or mlsgo")
		sizes := fs.String("sizes", "2,100,1000", "group sizes")
		reps := fs.Int("reps", 3, "timed runs per figure")
		best := fs.Bool("best", true, "build and time the best case")
		maxBest := fs.Int("maxbest", 0, "largest size with a best case (0: all)")
		cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		var e harness.Engine
		switch *engine {
		case "daylight":
			e = daylight.Engine{}
		case "mlsgo":
			e = mlsgo.Engine{}
		default:
			return fmt.Errorf("unknown engine %q", *engine)
		}
		var ns []int
		for s := range strings.SplitSeq(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 2 {
				return fmt.Errorf("bad size %q", s)
			}
			ns = append(ns, n)
		}
		if *reps < 1 {
			return errors.New("reps must be positive")
		}
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		r := harness.Run(e, harness.Options{Sizes: ns, Reps: *reps, Best: *best, MaxBest: *maxBest, Log: stderr})
		return harness.WriteJSON(stdout, r)
	case "table":
		return harness.Table(stdout, args[1:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}
