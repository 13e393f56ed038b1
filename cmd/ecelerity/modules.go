package main

// The built-in modules compiled into the daemon: each registers itself from init().
import (
	_ "github.com/ecelerity-go/ecelerity/modules/sample"
)
