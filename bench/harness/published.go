package harness

// Published figures of other MLS engines, quoted, not measured here.
var published = []Published{}

var sourceOrder = []string{}

var sources = map[string]string{}
