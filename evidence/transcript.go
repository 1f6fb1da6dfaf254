package evidence

import (
	"bytes"
	"encoding/hex"
	"html/template"
	"time"
)

// The transcript is rendered deterministically from the messages, so Verify
// re-renders it and compares bytes: the human-readable file says exactly what
// the machine-readable one does.
var transcriptTemplate = template.Must(template.New("transcript").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Evidence transcript — case {{.CaseNumber}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.text { white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Evidence transcript</h1>
<dl>
<dt>Case</dt><dd>{{.CaseNumber}}</dd>
<dt>Court</dt><dd>{{.Court}} ({{.Jurisdiction}})</dd>
<dt>Legal basis</dt><dd>{{.LegalBasis}}</dd>
<dt>Targets</dt><dd>{{range $i, $t := .Targets}}{{if $i}}, {{end}}{{$t}}{{end}}</dd>
<dt>Window</dt><dd>{{.WindowStart}} to {{.WindowEnd}} (UTC)</dd>
<dt>Messages</dt><dd>{{len .Rows}}</dd>
</dl>
<p>Every message below carries its sender's MLS signature, checked against the sender's key; see messages.jsonl and manifest.json.</p>
<table>
<caption>Messages in time order</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time (UTC)</th><th scope="col">Group</th><th scope="col">Epoch</th><th scope="col">Sender</th><th scope="col">Device</th><th scope="col">Message</th></tr></thead>
<tbody>
{{range .Rows}}<tr><td>{{.N}}</td><td>{{.Time}}</td><td>{{.Group}}</td><td>{{.Epoch}}</td><td>{{.Sender}}</td><td>{{.Device}}</td><td class="text">{{.Text}}</td></tr>
{{end}}</tbody>
</table>
</body>
</html>
`))

type transcriptRow struct {
	N                    int
	Time, Group          string
	Epoch                uint64
	Sender, Device, Text string
}

func renderTranscript(c *caseContext, msgs []Message) ([]byte, error) {
	ts := func(sec uint64) string { return time.Unix(int64(sec), 0).UTC().Format(time.RFC3339) }
	data := struct {
		CaseNumber, Court, Jurisdiction, LegalBasis string
		Targets                                     []string
		WindowStart, WindowEnd                      string
		Rows                                        []transcriptRow
	}{c.w.CaseNumber, c.w.Court, c.w.Jurisdiction, c.w.LegalBasis, c.w.Targets, ts(c.w.WindowStart), ts(c.w.WindowEnd), make([]transcriptRow, len(msgs))}
	for i, m := range msgs {
		data.Rows[i] = transcriptRow{
			N: i + 1, Time: time.UnixMilli(int64(m.Time)).UTC().Format("2006-01-02T15:04:05.000Z"),
			Group: hex.EncodeToString(m.GroupID), Epoch: m.Epoch, Sender: m.Sender, Device: m.Device, Text: m.Text,
		}
	}
	var buf bytes.Buffer
	buf.Grow(256 * (len(msgs) + 8))
	if err := transcriptTemplate.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
