// Log search alert rules over the pipeline's metrics in Application Insights (customMetrics). Deployed by main.bicep,
// or on its own for an existing Application Insights resource:
//   az deployment group create -g <rg> -f infra/alerts.bicep -p namePrefix=<name> applicationInsightsResourceId=<id>
//
// The metrics client pre-aggregates each metric per minute and dimension set, so a customMetrics row holds valueSum,
// valueCount, valueMin and valueMax: counters are sum(valueSum); a duration's mean per row is valueSum / valueCount.
// Percentiles are therefore weighted percentiles of those per-minute means (percentilew), a close estimate rather than
// exact sample percentiles; valueMax stays exact.

metadata name = 'IoMT FHIR pipeline alerts'
metadata description = 'Alert rules: errors, device-to-FHIR latency, dead letters, and silence on the event hub.'

@description('Required. Prefix of the alert rule names.')
param namePrefix string

@description('Optional. Location of the alert rules.')
param location string = resourceGroup().location

@description('Optional. Tags applied to every alert rule.')
param tags object = {}

@description('Required. Resource ID of the Application Insights resource the pipeline reports to.')
param applicationInsightsResourceId string

@description('Optional. Action groups notified when an alert fires.')
param actionGroupResourceIds string[] = []

@description('Optional. Alert when the device-to-FHIR latency p99 over 15 minutes exceeds this many milliseconds.')
@minValue(1000)
param deviceToFhirLatencyP99Ms int = 300000

@description('Optional. Alert when more than this many items were dead-lettered in 15 minutes.')
@minValue(0)
param deadLetterThreshold int = 0

@description('Optional. Alert when no device message arrived for this many minutes (0 turns the alert off).')
@allowed([
  0
  15
  30
  60
  120
  180
  360
  1440
])
param noIncomingMessagesMinutes int = 30

var actions = {
  actionGroups: actionGroupResourceIds
}

// Every query reads metric names from src/pipeline/metrics.ts and dimensions from the closed set the metrics adapter
// sends (test/infra/workbook.test.ts checks both).
var errorsQuery = '''
customMetrics
| where name == 'TotalErrors'
| extend ErrorType = tostring(customDimensions.errorType), Stage = tostring(customDimensions.stage)
| summarize Errors = sum(valueSum) by ErrorType, Stage
'''

var latencyQuery = '''
customMetrics
| where name == 'DeviceToFhirLatencyMs' and valueCount > 0
| summarize P99 = percentilew(valueSum / valueCount, valueCount, 99)
'''

var deadLetterQuery = '''
customMetrics
| where name == 'DeadLetteredItems'
| extend Stage = tostring(customDimensions.stage)
| summarize DeadLettered = sum(valueSum) by Stage
'''

// Without a group key, summarize returns one row even over no data, with sum() = 0: silence is a value of 0.
var silenceQuery = '''
customMetrics
| where name == 'IncomingMessages'
| summarize Incoming = sum(valueSum)
'''

var silenceWindow = noIncomingMessagesMinutes % 60 == 0 ? 'PT${noIncomingMessagesMinutes / 60}H' : 'PT${noIncomingMessagesMinutes}M'
var silenceFrequency = noIncomingMessagesMinutes <= 60 ? 'PT5M' : (noIncomingMessagesMinutes <= 360 ? 'PT15M' : 'PT1H')

resource errorsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-pipeline-errors'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: pipeline errors'
    description: 'Errors in normalization, grouping or FHIR conversion (TotalErrors), per MedTech error type and stage. Look up the error type in the workbook and the dead-letter store.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: errorsQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Errors'
          dimensions: [
            {
              name: 'ErrorType'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'Stage'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

resource latencyAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-device-to-fhir-latency'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: device-to-FHIR latency p99'
    description: 'The 99th percentile of the time from an event\'s enqueue to its Observation being saved (DeviceToFhirLatencyMs) is above ${deviceToFhirLatencyP99Ms} ms: the pipeline is falling behind, or the FHIR service is throttling.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: latencyQuery
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'P99'
          operator: 'GreaterThan'
          threshold: deviceToFhirLatencyP99Ms
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

resource deadLetterAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-dead-letters'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: dead letters growing'
    description: 'Items were written to the dead-letter store (DeadLetteredItems). They are kept there: fix the mapping or the data, then replay them.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: deadLetterQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'DeadLettered'
          dimensions: [
            {
              name: 'Stage'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: deadLetterThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

resource silenceAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = if (noIncomingMessagesMinutes > 0) {
  name: 'alert-${namePrefix}-no-incoming-messages'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: '${namePrefix}: no device messages'
    description: 'No device message was read from the event hub (IncomingMessages) for ${noIncomingMessagesMinutes} minutes: devices are silent, or the function app is stopped or cannot read the hub.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsResourceId
    ]
    evaluationFrequency: silenceFrequency
    windowSize: silenceWindow
    criteria: {
      allOf: [
        {
          query: silenceQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Incoming'
          operator: 'LessThanOrEqual'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

var alwaysOnRuleIds = [
  errorsAlert.id
  latencyAlert.id
  deadLetterAlert.id
]

@description('Resource IDs of the alert rules.')
output alertRuleResourceIds string[] = noIncomingMessagesMinutes > 0 ? union(alwaysOnRuleIds, array(silenceAlert.id)) : alwaysOnRuleIds
