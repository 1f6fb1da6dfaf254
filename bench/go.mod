module github.com/daylight-im/daylight/bench

go 1.26.8

replace github.com/daylight-im/daylight => ../

require (
	github.com/daylight-im/daylight v0.0.0-00010101000000-000000000000
	github.com/thomas-vilte/mls-go v1.6.0
)

require (
	github.com/cloudflare/circl v1.6.5 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
