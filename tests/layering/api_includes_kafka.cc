// Must not compile: the API sees Kafka mode as PracticeOwners, never the Kafka classes.
#include "adapters/kafka/kafka_membership.h"
