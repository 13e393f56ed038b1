package server

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Readiness states sent to the service manager (sd_notify).
const (
	notifyReady    = daemon.SdNotifyReady
	notifyStopping = daemon.SdNotifyStopping
)

// notifyReloading is RELOADING=1 with the MONOTONIC_USEC that systemd's
// Type=notify-reload wants beside it.
func notifyReloading() string {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Sec*1_000_000 + ts.Nsec/1_000
	return fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, usec)
}

// systemdNotify sends state to $NOTIFY_SOCKET; without it the call does nothing.
func systemdNotify(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}
