// Package lang is the SiddhiQL front end. Its subpackages do one step each:
//
//	ast      the syntax tree; every node carries its position
//	parser   source text to syntax tree (Parse, ParseOnDemand, ParseExpr)
//	check    names and types, with Siddhi's rules (Check, CheckOnDemand)
//	printer  syntax tree back to canonical source text
//
// This package holds only the tests that run Siddhi's conformance apps
// through the whole front end.
package lang
