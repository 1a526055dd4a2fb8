package main

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hecrisk/hecrisk/hec"
	"github.com/hecrisk/hecrisk/web/console"
)

// consoleDeps is what the web console reads besides the REST API.
type consoleDeps struct {
	sys   *system
	hec   *hec.Server
	token string
}

// mountConsole serves the web console at / on the API address (after the API routes, which keep
// their paths).
func mountConsole(app *fiber.App, d consoleDeps) {
	docs := make([]console.DetectionDoc, 0, len(d.sys.catalog.All()))
	for _, det := range d.sys.catalog.All() {
		docs = append(docs, console.DetectionDoc{
			ID: det.ID, Name: det.Name, SearchName: det.SavedSearchName(), Search: det.Search,
			Description: det.Description, HowToImplement: det.HowToImplement,
			KnownFalsePositives: det.KnownFalsePositives, References: det.References,
			MitreAttackIDs: det.Tags.MitreAttackID, AnalyticStories: det.Tags.AnalyticStory,
			RiskMessage: det.RBA.Message, Earliest: det.Earliest, Latest: det.Latest, Source: det.Source,
		})
	}
	err := console.Register(app, console.Deps{APIToken: d.token, Store: d.sys.store, Searcher: d.sys,
		Docs: docs, Loc: d.sys.loc, Logger: d.sys.log})
	if err != nil {
		// Only a broken embedded template gets here; the API keeps working without the console.
		d.sys.log.Error("web console not mounted", "error", err)
	}
}
