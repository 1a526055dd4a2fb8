// The console's browser tests drive headless Chromium with chromedp. They live in their own
// module, as bench/ does, so chromedp is not a dependency of the hecrisk binary's module.
module github.com/hecrisk/hecrisk/web/console/browsertest

go 1.26.8

require (
	github.com/chromedp/chromedp v0.23.0
	github.com/hecrisk/hecrisk v0.0.0
	github.com/segmentio/encoding v0.5.4
)

require (
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	golang.org/x/sys v0.50.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)

replace github.com/hecrisk/hecrisk => ../../..
