package main

import (
	"github.com/seaflow/seaflow/rules"
	"github.com/seaflow/seaflow/triggers"
)

// cronJobs lists the cron rules.
func cronJobs(cfg *rules.Config) []triggers.CronJob {
	var jobs []triggers.CronJob
	for _, r := range cfg.Rules {
		if r.On.Cron == "" {
			continue
		}
		jobs = append(jobs, triggers.CronJob{Rule: r.Name, Spec: r.On.Cron, Schedule: r.Schedule(), TZ: r.Location(), CatchUp: r.On.CatchUp})
	}
	return jobs
}
