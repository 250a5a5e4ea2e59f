//go:build !linux

package main

import "time"

func preciseSleepSetup() {}

func preciseSleep(d time.Duration) { time.Sleep(d) }
