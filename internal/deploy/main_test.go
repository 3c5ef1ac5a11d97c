package deploy

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// The deploy lock's leader election logs through klog; the CLI silences it too.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
