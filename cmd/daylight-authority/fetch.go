package main

// `daylight-authority case fetch`: for a filed (logged) warrant, fetch from
// the delivery service the escrow records of its scope (POST
// /v1/lawful/records, added to the case as the records asked for) and the
// ciphertext retained since the warrant was presented (POST
// /v1/lawful/retained, written as the --retained JSON Lines of `case
// decrypt`) and, with --states, the public state of every in-scope epoch
// (POST /v1/lawful/states, the --states file of `case decrypt`). The first fetch presents the warrant: the DS retains the
// targets' groups from then on (docs/retention.md), so the prospective flow is
// `case file` (no --records) at once, then `case fetch` again once the window
// has passed and before `case collect`.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/daylight-im/daylight/trustee/service"
)

type fetchRecord struct {
	Record        []byte `json:"record"`
	EpochEvidence []byte `json:"epoch_evidence"`
}

func runCaseFetch(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := caseFlags("fetch", stderr)
	casePath := fs.String("case", "case.json", "the case (case file); its records are replaced by the DS's answer")
	server := fs.String("server", "", "the delivery service's base URL (required)")
	caFile := fs.String("ca", "", "PEM file of a CA certificate for the DS's TLS")
	retainedOut := fs.String("retained", "", "write the retained ciphertext here (JSON Lines for case decrypt)")
	statesOut := fs.String("states", "", "write the public states of the in-scope epochs here (the --states file of case decrypt)")
	noRecords := fs.Bool("present-only", false, "only present the warrant (start retention); do not require records")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" {
		return errors.New("case fetch: --server is required")
	}
	// The case is handled at the JSON level: a case filed without records
	// (prospective flow) is not yet a valid release request for ParseCase.
	raw, err := os.ReadFile(*casePath)
	if err != nil {
		return fmt.Errorf("case fetch: %w", err)
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(raw, &file); err != nil {
		return fmt.Errorf("case fetch: %s: %w", *casePath, err)
	}
	var pb []byte
	var req service.ReleaseRequest
	if err := json.Unmarshal(file["policy"], &pb); err != nil {
		return fmt.Errorf("case fetch: %s: policy: %w", *casePath, err)
	}
	if err := json.Unmarshal(file["request"], &req); err != nil || len(req.Warrant) == 0 || len(req.Salt) != 32 {
		return fmt.Errorf("case fetch: %s: no filed warrant in the case (%v)", *casePath, err)
	}
	hc := &http.Client{Timeout: time.Minute}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("case fetch: --ca %s: no certificate", *caFile)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	body := map[string]any{"warrant": req.Warrant, "salt": req.Salt, "warrant_entry": req.WarrantEntry, "warrant_proof": req.WarrantProof}
	post := func(path string, body map[string]any) ([]byte, error) {
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(*server, "/")+path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %s: %s", path, resp.Status, bytes.TrimSpace(out))
		}
		return out, nil
	}

	withPolicy := map[string]any{"policy": pb}
	for k, v := range body {
		withPolicy[k] = v
	}
	retained, err := post("/v1/lawful/retained", withPolicy)
	if err != nil {
		return fmt.Errorf("case fetch: %w", err)
	}
	lines := bytes.Count(retained, []byte("\n"))
	if *retainedOut != "" {
		if err := caseWriteFile(*retainedOut, retained, 0o600); err != nil {
			return err
		}
	}
	rb, err := post("/v1/lawful/records", body)
	if err != nil {
		return fmt.Errorf("case fetch: %w", err)
	}
	var recs []fetchRecord
	if err := json.Unmarshal(rb, &recs); err != nil {
		return fmt.Errorf("case fetch: records: %w", err)
	}
	if len(recs) == 0 && !*noRecords {
		return fmt.Errorf("case fetch: the DS holds no escrow record in the warrant's scope yet (%d retained messages)", lines)
	}
	var states map[string]json.RawMessage
	if *statesOut != "" {
		sb, err := post("/v1/lawful/states", body)
		if err != nil {
			return fmt.Errorf("case fetch: %w", err)
		}
		if err := json.Unmarshal(sb, &states); err != nil {
			return fmt.Errorf("case fetch: states: %w", err)
		}
		if err := caseWriteFile(*statesOut, sb, 0o600); err != nil {
			return err
		}
	}
	req.Records = []service.RecordRequest{}
	for _, r := range recs {
		req.Records = append(req.Records, service.RecordRequest{Record: r.Record, EpochEvidence: r.EpochEvidence})
	}
	if file["request"], err = json.Marshal(req); err != nil {
		return err
	}
	out, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return err
	}
	if err := caseWriteFile(*casePath, out, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fetched: %d records -> %s, %d retained messages", len(recs), *casePath, lines)
	if *retainedOut != "" {
		fmt.Fprintf(stdout, " -> %s", *retainedOut)
	}
	if *statesOut != "" {
		fmt.Fprintf(stdout, ", %d epoch states -> %s", len(states), *statesOut)
	}
	fmt.Fprintln(stdout)
	return nil
}
