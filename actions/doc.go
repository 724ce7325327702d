// Package actions defines the row operations seaflow performs on SeaTable,
// coalesces them into the fewest API calls, and executes them.
package actions
