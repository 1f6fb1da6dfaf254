package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// Page says where the report's figures can be checked.
type Page struct {
	// LogURL is the public tlog-tiles prefix of the log (e.g.
	// "https://daylight.example/log/"); entry links point into it.
	LogURL string
	// ReportURL is the public URL of report.json (for the command).
	ReportURL string
	LogKey    string   // the log's verifier key
	Witnesses []string // witness cosignature verifier keys
	Threshold int
	Policy    string // link to the machine-readable policy
}

// Command returns the daylight-verify command that recomputes the report, or
// one figure of it when figure is not empty.
func (p Page) Command(figure string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "daylight-verify report --log %s --log-key '%s'", p.LogURL, p.LogKey)
	for _, w := range p.Witnesses {
		fmt.Fprintf(&b, " --witness '%s'", w)
	}
	fmt.Fprintf(&b, " --threshold %d --report %s", p.Threshold, p.ReportURL)
	if figure != "" {
		fmt.Fprintf(&b, " --figure %s", figure)
	}
	return b.String()
}

// EntryURL returns the URL of the entry bundle holding entry i of a log of
// size entries (C2SP tlog-tiles: 256 entries per bundle, partial last one).
func EntryURL(logURL string, i, size uint64) string {
	n := i / 256
	p := "tile/entries/" + tileIndex(n)
	if w := size - n*256; w < 256 {
		p += fmt.Sprintf(".p/%d", w)
	}
	return strings.TrimSuffix(logURL, "/") + "/" + p
}

// tileIndex encodes a tile index as C2SP tlog-tiles paths do: 3-digit groups,
// all but the last prefixed with "x".
func tileIndex(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

type bar struct {
	Label string
	Value int64
	Width int
	Y     int
	Ref   string
}

type chart struct {
	ID     string
	Title  string
	Bars   []bar
	Height int
}

type figView struct {
	Figure
	Display string
	Links   []link
	More    int
	Command string
}

type link struct {
	Index uint64
	URL   string
}

type section struct {
	Name    string
	Title   string
	Figures []figView
	Charts  []chart
}

func sectionTitle(s string) string {
	switch s {
	case "requests":
		return "Legal requests received"
	case "outcomes":
		return "Outcomes (current state of each request)"
	case "refusals":
		return "Refusals by reason"
	case "timing":
		return "Time from receipt to answer"
	case "warrants":
		return "Warrants (content, through the trustees)"
	case "budgets":
		return "Budgets used against the policy in force"
	case "evidence":
		return "Evidence logged"
	case "log":
		return "The log"
	}
	return s
}

// chartGroups are the figure-id prefixes drawn as bar charts.
func chartGroups() []struct{ prefix, title string } {
	return []struct{ prefix, title string }{
		{"requests.jurisdiction.", "Requests per jurisdiction"},
		{"requests.instrument.", "Requests per instrument"},
		{"requests.category.", "Requests per data category"},
		{"requests.month.", "Requests per month"},
		{"requests.outcome.", "Requests per outcome"},
		{"refusals.reason.", "Refusals per reason"},
		{"warrants.filed.jurisdiction.", "Warrants filed per jurisdiction"},
		{"warrants.opened.month.", "Warrants opened per month"},
	}
}

func duration(s int64) string {
	d := time.Duration(s) * time.Second
	days := s / 86400
	if days > 0 {
		return fmt.Sprintf("%d s (%dd %dh)", s, days, (s%86400)/3600)
	}
	return fmt.Sprintf("%d s (%s)", s, d)
}

const maxLinks = 12

func (r *Report) sections(p Page) []section {
	var out []section
	idx := map[string]int{}
	for _, f := range r.Figures {
		i, ok := idx[f.Section]
		if !ok {
			t := sectionTitle(f.Section)
			out = append(out, section{Name: f.Section, Title: t})
			i = len(out) - 1
			idx[f.Section] = i
		}
		v := figView{Figure: f, Display: fmt.Sprint(f.Value), Command: p.Command(f.ID)}
		if f.Unit == "seconds" {
			v.Display = duration(f.Value)
		}
		for j, e := range f.Entries {
			if j == maxLinks {
				v.More = len(f.Entries) - maxLinks
				break
			}
			v.Links = append(v.Links, link{e, EntryURL(p.LogURL, e, r.Size)})
		}
		out[i].Figures = append(out[i].Figures, v)
	}
	for _, g := range chartGroups() {
		var c chart
		var max int64
		for _, f := range r.Figures {
			if strings.HasPrefix(f.ID, g.prefix) {
				c.Bars = append(c.Bars, bar{Label: strings.TrimPrefix(f.ID, g.prefix), Value: f.Value, Ref: "f-" + f.ID})
				if f.Value > max {
					max = f.Value
				}
			}
		}
		if len(c.Bars) == 0 {
			continue
		}
		for i := range c.Bars {
			c.Bars[i].Y = i * 26
			if max > 0 {
				c.Bars[i].Width = int(c.Bars[i].Value * 360 / max)
			}
		}
		c.ID, c.Title, c.Height = "c-"+strings.TrimSuffix(g.prefix, "."), g.title, len(c.Bars)*26+4
		sec := strings.SplitN(g.prefix, ".", 2)[0]
		if sec == "requests" && strings.HasPrefix(g.prefix, "requests.outcome.") {
			sec = "outcomes"
		}
		if i, ok := idx[sec]; ok {
			out[i].Charts = append(out[i].Charts, c)
		}
	}
	// Budgets: used against allowed.
	if i, ok := idx["budgets"]; ok {
		var c chart
		add := func(label, id string) {
			if f, ok := r.Figure(id); ok {
				c.Bars = append(c.Bars, bar{Label: label, Value: f.Value, Ref: "f-" + id})
			}
		}
		add("overall 30d allowed", "budgets.overall_30d.allowed")
		add("overall 30d used", "budgets.overall_30d.used")
		add("per warrant allowed", "budgets.per_warrant.allowed")
		add("per warrant max used", "budgets.per_warrant.max_used")
		var max int64
		for _, b := range c.Bars {
			if b.Value > max {
				max = b.Value
			}
		}
		for j := range c.Bars {
			c.Bars[j].Y = j * 26
			if max > 0 {
				c.Bars[j].Width = int(c.Bars[j].Value * 360 / max)
			}
		}
		c.ID, c.Title, c.Height = "c-budgets", "Budgets: used against allowed (records)", len(c.Bars)*26+4
		if len(c.Bars) > 0 {
			out[i].Charts = append(out[i].Charts, c)
		}
	}
	return out
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"time": func(t uint64) string { return time.Unix(int64(t), 0).UTC().Format(time.RFC3339) },
	"add":  func(a, b int) int { return a + b },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Daylight transparency report</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#111;background:#fff}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.v{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font-size:.85em;word-break:break-all}
pre{white-space:pre-wrap;overflow-wrap:anywhere}
svg text{font:13px system-ui,sans-serif;fill:#111}
svg rect{fill:#1f5fa8}
a{color:#0b4f9c}
.sr{position:absolute;left:-9999px}
:focus{outline:3px solid #e8a200}
</style>
</head>
<body>
<header>
<h1>Daylight transparency report</h1>
<p>Computed from the access log <strong>{{.R.Origin}}</strong>: its first <strong id="size">{{.R.Size}}</strong> entries
(root <code>{{.R.Root}}</code>), latest entry time {{time .R.AsOf}}. Every figure lists the log entries behind it
and the command that recomputes it from the log's tiles alone.</p>
<p>Downloads: <a href="report.json">report.json</a> · <a href="report.csv">report.csv</a> · <a href="{{.P.Policy}}">policy in force (JSON)</a></p>
<p>Recompute everything:</p>
<pre><code>{{.P.Command ""}}</code></pre>
{{range .R.Warnings}}<p role="alert"><strong>Warning:</strong> {{.}}</p>{{end}}
<nav aria-label="Sections"><ul>{{range .S}}<li><a href="#s-{{.Name}}">{{.Title}}</a></li>{{end}}</ul></nav>
</header>
<main>
{{range .S}}
<section id="s-{{.Name}}" aria-labelledby="h-{{.Name}}">
<h2 id="h-{{.Name}}">{{.Title}}</h2>
{{range .Charts}}
<figure>
<svg role="img" aria-labelledby="{{.ID}}-t" width="100%" viewBox="0 0 600 {{.Height}}" preserveAspectRatio="xMinYMin meet">
<title id="{{.ID}}-t">{{.Title}}: {{range $i, $b := .Bars}}{{if $i}}, {{end}}{{$b.Label}} {{$b.Value}}{{end}}</title>
{{range .Bars}}<a href="#{{.Ref}}"><text x="0" y="{{add .Y 17}}">{{.Label}}</text><rect x="190" y="{{add .Y 4}}" width="{{.Width}}" height="18"></rect><text x="{{add .Width 196}}" y="{{add .Y 17}}">{{.Value}}</text></a>
{{end}}</svg>
<figcaption>{{.Title}}</figcaption>
</figure>
{{end}}
<table>
<caption class="sr">{{.Title}}: figures</caption>
<thead><tr><th scope="col">Figure</th><th scope="col">Value</th><th scope="col">Log entries and check</th></tr></thead>
<tbody>
{{range .Figures}}<tr id="f-{{.ID}}"><th scope="row">{{.Label}}<br><code>{{.ID}}</code></th><td class="v" data-figure="{{.ID}}" data-value="{{.Value}}">{{.Display}}</td>
<td><details><summary>{{len .Entries}} entries</summary>
<p>{{range .Links}}<a href="{{.URL}}" title="entry bundle holding entry {{.Index}}">#{{.Index}}</a> {{end}}{{if .More}}and {{.More}} more (all in report.json){{end}}</p>
<p>Recompute: <code>{{.Command}}</code></p></details></td></tr>
{{end}}</tbody>
</table>
</section>
{{end}}
</main>
<footer><p>No JavaScript is needed to read this page. Entry links point to C2SP tlog-tiles entry bundles (256 entries each); an entry's position in its bundle is its index modulo 256.</p></footer>
</body>
</html>
`))

// WriteHTML renders the report as an accessible HTML page with inline SVG
// charts; it needs no JavaScript.
func (r *Report) WriteHTML(w io.Writer, p Page) error {
	return page.Execute(w, struct {
		R *Report
		P Page
		S []section
	}{r, p, r.sections(p)})
}
