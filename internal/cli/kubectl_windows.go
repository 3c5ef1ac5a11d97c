package cli

import "os"

// forwardable: Windows delivers only interrupts, and all of them go on.
func forwardable(os.Signal) bool { return true }

// processGone cannot be told cheaply on Windows: nothing stale is removed there.
func processGone(int) bool { return false }
