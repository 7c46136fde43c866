//go:build tools

// The Gateway API conformance suite and its echo server, built from their module unmodified:
// the suite's test binary (go test -c sigs.k8s.io/gateway-api/conformance) and echo-basic, the
// image the suite's Deployments run.
package tools

import (
	_ "sigs.k8s.io/gateway-api/conformance"
)
