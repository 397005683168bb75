package conformance

// knownDeviations lists the cases whose recorded output the engine does not
// reproduce on purpose, with the reason. Run marks their results; they still
// count as failed, and the package test fails when one passes, so that the
// list stays current.
var knownDeviations = map[string]string{
	"query/CallbackTestCase#callbackTest1": "the Java test removes its callback after the first event",
	"query/function/ConvertFunctionTestCase#convertFunctionTestForThrowableAndObjectArray": "converts Java " +
		"exception and array objects to strings with Java's toString",
	"managment/PlaybackTestCase#playbackTest15": "without playback Siddhi's timeBatch ran on the wall clock " +
		"while the test sent a timestamp 1 s ahead; the engine runs on event time",
}
