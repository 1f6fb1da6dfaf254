package harness

// Published figures of other MLS engines, quoted from their sources, not measured here
// (other machines, other tree shapes: read them as orders of magnitude).
var published = []Published{
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit (empty, with path): create", 16 + 2, "2.74 ms", "mls-rs-ci"},
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit (empty, with path): create", 64 + 2, "7.46 ms", "mls-rs-ci"},
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit (empty, with path): create", 128 + 2, "13.9 ms", "mls-rs-ci"},
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit: process (receiver)", 16 + 2, "0.79 ms", "mls-rs-ci"},
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit: process (receiver)", 64 + 2, "0.89 ms", "mls-rs-ci"},
	{"mls-rs 0.55.4 (OpenSSL provider)", "update commit: process (receiver)", 128 + 2, "1.02 ms", "mls-rs-ci"},
	{"OpenMLS (native)", "commit adding one member", 1000, "734 ms", "openmls-xmtp"},
	{"OpenMLS (WASM)", "update commit, worst case: create", 1024, "≈ 820 ms", "issue3"},
	{"OpenMLS (WASM)", "update commit, worst case: process", 1024, "≈ 124 ms", "issue3"},
	{"ts-mls", "update commit, worst case: create / process", 1024, "≈ 4 s / 1.4 s", "issue3"},
	{"mls-go v1.6.0", "update commit, worst case: create / process", 1000, "≈ 164 ms / 19 ms", "issue3"},
}

var sourceOrder = []string{"mls-rs-ci", "openmls-xmtp", "issue3"}

var sources = map[string]string{
	"mls-rs-ci": "mls-rs continuous benchmark data (github-action-benchmark), repository https://github.com/awslabs/mls-rs, file dev/bench/data.js, " +
		"entry for commit 39c3eb4 (2026-08-19, v0.55.4), benches group_commit and group_receive_commit, CipherSuite(1), " +
		"indices 0/1/2 = groups of 16/64/128 members plus the 2 external joiners of mls-rs/src/test_utils/benchmarks.rs; " +
		"GitHub Actions runner; tree shape is that of mls-rs's test groups, not our worst/best case.",
	"openmls-xmtp": "F. Kiefer (OpenMLS), https://github.com/xmtp/libxmtp/issues/701 (2024-06-03): " +
		"\"For a 1000 member group for example I see 734ms to add a new member\" (noisy, his words).",
	"issue3": "Figures quoted in Daylight issue 3 (\"Speed\"), \"on the same kind of machine\"; their original source is not cited there " +
		"and was not checked here. ts-mls and mls-go are measured above in the same run instead.",
}
