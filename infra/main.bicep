// Everything the IoMT-to-FHIR pipeline needs in one resource group, with identities instead of secrets:
//
//   devices ──► Event Hubs (hub + dedicated consumer group) ──► Function App (system-assigned identity)
//                                                                 ├─► FHIR service (FHIR Data Writer)
//                                                                 ├─► Storage: host, Durable Functions task hub,
//                                                                 │   Event Hubs checkpoints, mappings, dead letters
//                                                                 └─► Application Insights (metrics, logs) + workbook, alerts
//
// Deploy:  az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json
// Then:    npm run build && func azure functionapp publish <functionAppName>   (docs/deploy.md)
//
// Conventions follow Azure Verified Modules where they fit: camelCase parameters with descriptions, `location` and
// `tags` on every resource, deterministic role assignment names (guid of scope, principal and role), outputs named
// after what they return.

targetScope = 'resourceGroup'

metadata name = 'IoMT FHIR pipeline'
metadata description = 'Event Hubs, Azure Functions (Flex Consumption or Elastic Premium), FHIR service, Storage and Application Insights for an open-source replacement of the Azure Health Data Services MedTech service.'

// ---------------------------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------------------------

@description('Required. Short name used to derive resource names (letters, digits and hyphens).')
@minLength(3)
@maxLength(16)
param baseName string

@description('Optional. Location for all resources.')
param location string = resourceGroup().location

@description('Optional. Tags applied to every resource.')
param tags object = {}

@description('Optional. Hosting plan of the function app: Flex Consumption (identity-only storage, scales per event hub partition) or Elastic Premium (always-warm instances; needs an Azure Files connection string, so the storage account keeps shared keys).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Optional. Node.js version of the Functions worker.')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

@description('Optional. Flex Consumption: most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 100

@description('Optional. Flex Consumption: instance memory in MB.')
@allowed([
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Optional. Elastic Premium: plan SKU.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@description('Optional. Elastic Premium: most instances the plan scales out to.')
@minValue(1)
@maxValue(100)
param premiumMaximumElasticWorkerCount int = 20

@description('Optional. Storage account redundancy.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
])
param storageSku string = 'Standard_LRS'

@description('Optional. Event hub the devices send to.')
param eventHubName string = 'devicedata'

@description('Optional. Consumer group of the pipeline. A dedicated one, so other readers (or a MedTech service during a migration) keep their own position.')
param eventHubConsumerGroupName string = 'iomt-fhir'

@description('Optional. Partitions of the event hub: the most function instances that read in parallel. Cannot be changed later on the Standard tier.')
@minValue(1)
@maxValue(32)
param eventHubPartitionCount int = 4

@description('Optional. Days the event hub keeps events: how long the pipeline may be down without losing data.')
@minValue(1)
@maxValue(7)
param eventHubMessageRetentionInDays int = 7

@description('Optional. Event Hubs throughput units.')
@minValue(1)
@maxValue(40)
param eventHubCapacity int = 1

@description('Optional. Refuse shared access signatures (connection strings) on the Event Hubs namespace, so devices and the pipeline must use Microsoft Entra ID. Set to false for devices that can only send with a SAS.')
param eventHubsDisableLocalAuth bool = true

@description('Optional. Resource ID of an existing Azure Health Data Services FHIR service to write to (a MedTech migration keeps its FHIR service). Empty: a new workspace and FHIR R4 service are created.')
param existingFhirServiceResourceId string = ''

@description('Optional. FHIR base URL to use instead of the one derived from the FHIR service (e.g. a FHIR server outside Azure Health Data Services). With no existingFhirServiceResourceId, nothing is created and no role is assigned: grant the function app identity access yourself.')
param fhirServerUrlOverride string = ''

@description('Optional. How Device, Patient and Encounter resources are resolved; keep the value the MedTech service used.')
@allowed([
  'Lookup'
  'Create'
  'LookupWithEncounter'
])
param resourceIdentityServiceType string = 'Lookup'

@description('Optional. Identifier system of Device resources (searched and created). Empty: any system matches.')
param defaultDeviceIdentifierSystem string = ''

@description('Optional. Where the device and FHIR destination mappings come from: the deployed package (mappings/ folder) or the mappings blob container (re-read when changed).')
@allowed([
  'package'
  'blob'
])
param mappingSource string = 'package'

@description('Optional. What happens to a message or measurement group that fails for good: DeadLetter (record it and go on) or Retry (fail the batch, MedTech\'s behaviour for unhandled errors).')
@allowed([
  'DeadLetter'
  'Retry'
])
param errorPolicy string = 'DeadLetter'

@description('Optional. Measurement groups per save activity.')
@minValue(1)
@maxValue(500)
param persistChunkSize int = 50

@description('Optional. Attempts per save activity for retryable errors.')
@minValue(1)
@maxValue(10)
param persistMaxAttempts int = 5

@description('Optional. Azure Table name of the dead-letter store (its overflow blob container has the same name in lower case).')
@minLength(3)
@maxLength(63)
param deadLetterTableName string = 'iomtdeadletters'

@description('Optional. Object ID of a person or group operating the deployment (e.g. `az ad signed-in-user show --query id -o tsv`). Gets Azure Event Hubs Data Sender on the hub (iomt send), FHIR Data Reader on the FHIR service (iomt verify) and Storage Blob Data Contributor on the mappings container. Empty: no assignment.')
param operatorPrincipalId string = ''

@description('Optional. Type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('Optional. Log Analytics retention in days.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Optional. Deploy the Application Insights workbook (infra/workbook.json).')
param deployWorkbook bool = true

@description('Optional. Deploy the alert rules (infra/alerts.bicep).')
param deployAlerts bool = true

@description('Optional. Action groups notified by the alert rules.')
param alertActionGroupResourceIds string[] = []

@description('Optional. Alert when the device-to-FHIR latency p99 exceeds this many milliseconds.')
@minValue(1000)
param alertDeviceToFhirLatencyP99Ms int = 300000

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
param alertNoIncomingMessagesMinutes int = 30

// ---------------------------------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------------------------------

var isFlex = hostingPlan == 'FlexConsumption'
var suffix = uniqueString(resourceGroup().id, baseName)
var compactName = toLower(replace(baseName, '-', ''))
var storageAccountName = take('st${take(compactName, 9)}${suffix}', 24)
var eventHubNamespaceName = 'evhns-${baseName}-${take(suffix, 6)}'
var functionAppName = 'func-${baseName}-${take(suffix, 6)}'
var planName = 'plan-${baseName}-${take(suffix, 6)}'
var logAnalyticsName = 'log-${baseName}-${take(suffix, 6)}'
var appInsightsName = 'appi-${baseName}-${take(suffix, 6)}'
var healthWorkspaceName = take('hdws${take(compactName, 10)}${suffix}', 24)
var fhirServiceName = take('fhir${take(compactName, 10)}${suffix}', 24)
var deploymentContainerName = 'app-package-${take(suffix, 8)}'
var mappingsContainerName = 'mappings'

// Built-in role definition IDs: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
// (checked by test/infra/bicep.test.ts against the documented values).
var roleIds = {
  azureEventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  azureEventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975'
  fhirDataWriter: '3f88fce4-5892-4214-ae73-ba5294559913'
  fhirDataReader: '4c8d0bbc-75d3-4935-991f-5f3c56d81508'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

// Storage roles of the function app's identity on its storage account:
// - Storage Blob Data Owner: the Functions host (AzureWebJobsStorage), Event Hubs trigger checkpoints and leases, the
//   Flex Consumption deployment package, blob mappings and dead-letter overflow blobs (Owner includes Contributor,
//   which Durable Functions needs for its blobs).
// - Storage Queue Data Contributor: the Durable Functions task hub's control and work-item queues.
// - Storage Table Data Contributor: the task hub's History and Instances tables, the host's diagnostic events and
//   the dead-letter table.
var functionStorageRoles = [
  roleIds.storageBlobDataOwner
  roleIds.storageQueueDataContributor
  roleIds.storageTableDataContributor
]

// ---------------------------------------------------------------------------------------------------------------------
// Monitoring
// ---------------------------------------------------------------------------------------------------------------------

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    // The pipeline's metrics client sends with the connection string's instrumentation key, so local
    // authentication stays on. The connection string only allows writing telemetry; it grants no read access.
    DisableLocalAuth: false
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Flex Consumption reaches everything with its managed identity; Elastic Premium still needs an Azure Files
    // connection string for its content share, so it keeps shared keys.
    allowSharedKeyAccess: !isFlex
    defaultToOAuthAuthentication: true
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = if (isFlex) {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource mappingsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: mappingsContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterOverflowContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: toLower(deadLetterTableName)
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deadLetterTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: deadLetterTableName
}

// ---------------------------------------------------------------------------------------------------------------------
// Event Hubs
// ---------------------------------------------------------------------------------------------------------------------

resource eventHubNamespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: eventHubNamespaceName
  location: location
  tags: tags
  sku: {
    // Standard: Basic has only the $Default consumer group.
    name: 'Standard'
    tier: 'Standard'
    capacity: eventHubCapacity
  }
  properties: {
    disableLocalAuth: eventHubsDisableLocalAuth
    minimumTlsVersion: '1.2'
  }
}

resource eventHub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: eventHubNamespace
  name: eventHubName
  properties: {
    partitionCount: eventHubPartitionCount
    messageRetentionInDays: eventHubMessageRetentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: eventHub
  name: eventHubConsumerGroupName
}

// ---------------------------------------------------------------------------------------------------------------------
// FHIR service
// ---------------------------------------------------------------------------------------------------------------------

var createFhirService = empty(existingFhirServiceResourceId) && empty(fhirServerUrlOverride)
var newFhirServerUrl = 'https://${healthWorkspaceName}-${fhirServiceName}.fhir.azurehealthcareapis.com'
var existingFhirSegments = split(existingFhirServiceResourceId, '/')
// An Azure Health Data Services FHIR service is reached at https://<workspace>-<fhir service>.fhir.azurehealthcareapis.com.
var existingFhirServerUrl = empty(existingFhirServiceResourceId) ? '' : 'https://${existingFhirSegments[8]}-${existingFhirSegments[10]}.fhir.azurehealthcareapis.com'
var derivedFhirServerUrl = createFhirService ? newFhirServerUrl : existingFhirServerUrl
var fhirServerUrl = empty(fhirServerUrlOverride) ? derivedFhirServerUrl : fhirServerUrlOverride

resource healthWorkspace 'Microsoft.HealthcareApis/workspaces@2024-03-31' = if (createFhirService) {
  name: healthWorkspaceName
  location: location
  tags: tags
  properties: {}
}

resource fhirService 'Microsoft.HealthcareApis/workspaces/fhirservices@2024-03-31' = if (createFhirService) {
  parent: healthWorkspace
  name: fhirServiceName
  location: location
  tags: tags
  kind: 'fhir-R4'
  properties: {
    authenticationConfiguration: {
      authority: '${environment().authentication.loginEndpoint}${tenant().tenantId}'
      audience: newFhirServerUrl
      smartProxyEnabled: false
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Function app
// ---------------------------------------------------------------------------------------------------------------------

// serviceBusEndpoint is https://<namespace>.servicebus.windows.net:443/ (another suffix in sovereign clouds); the
// trigger wants the bare host name.
var eventHubHostName = split(split(replace(eventHubNamespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0], '/')[0]

// Every setting src/pipeline/config/settings.ts reads, identity-based where the setting has an identity form
// (test/infra/app-settings.test.ts keeps this list and the code in step). Not set here, on purpose:
// EventHubConnection, AzureWebJobsStorage, MappingStorage, DeadLetterStorage (connection strings: the identity-based
// `__` forms are used) and FhirBearerToken, FhirManagedIdentityClientId, *__clientId (static tokens and user-assigned
// identities; this template uses the system-assigned identity).
var pipelineAppSettings = {
  EventHubConnection__fullyQualifiedNamespace: eventHubHostName
  EventHubName: eventHub.name
  EventHubConsumerGroup: consumerGroup.name
  FhirServerUrl: fhirServerUrl
  FhirAuthMode: 'ManagedIdentity'
  ResourceIdentityServiceType: resourceIdentityServiceType
  DefaultDeviceIdentifierSystem: defaultDeviceIdentifierSystem
  DeviceMappingSource: mappingSource == 'blob' ? 'blob:${mappingsContainerName}/devicecontent.json' : 'package:mappings/devicecontent.json'
  FhirMappingSource: mappingSource == 'blob' ? 'blob:${mappingsContainerName}/fhirmapping.json' : 'package:mappings/fhirmapping.json'
  AzureWebJobsStorage__accountName: storage.name
  MappingStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  DeadLetterTableName: deadLetterTableName
  DeadLetterStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  DeadLetterStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  ErrorPolicy: errorPolicy
  PersistChunkSize: string(persistChunkSize)
  PersistMaxAttempts: string(persistMaxAttempts)
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
}

// Elastic Premium only: Flex Consumption takes runtime and version from functionAppConfig and rejects these settings.
// The Azure Files content share of Elastic Premium takes only a connection string; the key is read at deployment
// time (listKeys) and never appears in the template or its parameters.
var premiumAppSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
  WEBSITE_CONTENTSHARE: toLower(functionAppName)
}

var appSettings = isFlex ? pipelineAppSettings : union(pipelineAppSettings, premiumAppSettings)

var flexPlanSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}

var premiumPlanSku = {
  name: premiumSku
  tier: 'ElasticPremium'
}

var flexFunctionAppConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
      authentication: {
        type: 'SystemAssignedIdentity'
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: flexMaximumInstanceCount
    instanceMemoryMB: flexInstanceMemoryMB
  }
  runtime: {
    name: 'node'
    version: nodeVersion
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? flexPlanSku : premiumPlanSku
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: isFlex ? null : premiumMaximumElasticWorkerCount
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      linuxFxVersion: isFlex ? null : 'Node|${nodeVersion}'
      appSettings: [
        for setting in items(appSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: isFlex ? flexFunctionAppConfig : null
  }
  dependsOn: [
    deploymentContainer
    mappingsContainer
    deadLetterTable
    deadLetterOverflowContainer
  ]
}

// ---------------------------------------------------------------------------------------------------------------------
// Role assignments
// ---------------------------------------------------------------------------------------------------------------------

resource functionStorageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in functionStorageRoles: {
    name: guid(storage.id, functionApp.id, roleId)
    scope: storage
    properties: {
      principalId: functionApp.identity.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource eventHubReceiverRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHub.id, functionApp.id, roleIds.azureEventHubsDataReceiver)
  scope: eventHub
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.azureEventHubsDataReceiver)
  }
}

var hasOperator = !empty(operatorPrincipalId)

var functionFhirRoleAssignments = [
  {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleIds.fhirDataWriter
  }
]

var operatorFhirRoleAssignments = [
  {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: roleIds.fhirDataReader
  }
]

var fhirRoleAssignments = hasOperator ? concat(functionFhirRoleAssignments, operatorFhirRoleAssignments) : functionFhirRoleAssignments

// The same module serves a new FHIR service (this resource group) and an existing one (its own resource group).
// The ternaries keep the resource ID segments from being read when there is no existing FHIR service.
var fhirScopeSubscriptionId = empty(existingFhirServiceResourceId) ? subscription().subscriptionId : existingFhirSegments[2]
var fhirScopeResourceGroupName = empty(existingFhirServiceResourceId) ? resourceGroup().name : existingFhirSegments[4]

module fhirRoles 'modules/fhir-role-assignments.bicep' = if (createFhirService || !empty(existingFhirServiceResourceId)) {
  name: 'fhir-roles-${take(suffix, 8)}'
  scope: resourceGroup(fhirScopeSubscriptionId, fhirScopeResourceGroupName)
  params: {
    fhirServiceResourceId: createFhirService ? fhirService.id : existingFhirServiceResourceId
    roleAssignments: fhirRoleAssignments
  }
}

resource operatorSenderRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(eventHub.id, operatorPrincipalId, roleIds.azureEventHubsDataSender)
  scope: eventHub
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.azureEventHubsDataSender)
  }
}

resource operatorMappingsRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(mappingsContainer.id, operatorPrincipalId, roleIds.storageBlobDataContributor)
  scope: mappingsContainer
  properties: {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Workbook and alerts
// ---------------------------------------------------------------------------------------------------------------------

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = if (deployWorkbook) {
  name: guid(appInsights.id, 'iomt-fhir-pipeline-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'IoMT FHIR pipeline (${baseName})'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('workbook.json')
    version: 'Notebook/1.0'
  }
}

module alerts 'alerts.bicep' = if (deployAlerts) {
  name: 'alerts-${take(suffix, 8)}'
  params: {
    namePrefix: baseName
    location: location
    tags: tags
    applicationInsightsResourceId: appInsights.id
    actionGroupResourceIds: alertActionGroupResourceIds
    deviceToFhirLatencyP99Ms: alertDeviceToFhirLatencyP99Ms
    noIncomingMessagesMinutes: alertNoIncomingMessagesMinutes
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------------------------------

@description('Name of the function app: `func azure functionapp publish <name>`.')
output functionAppName string = functionApp.name

@description('Object ID of the function app\'s system-assigned identity.')
output functionAppSystemAssignedMIPrincipalId string = functionApp.identity.principalId

@description('Fully qualified Event Hubs namespace devices send to.')
output eventHubNamespace string = pipelineAppSettings.EventHubConnection__fullyQualifiedNamespace

@description('Resource ID of the Event Hubs namespace (scope for sender role assignments).')
output eventHubNamespaceResourceId string = eventHubNamespace.id

@description('Name of the event hub.')
output eventHubName string = eventHub.name

@description('Resource ID of the event hub (scope for sender role assignments).')
output eventHubResourceId string = eventHub.id

@description('Consumer group the pipeline reads with.')
output eventHubConsumerGroupName string = consumerGroup.name

@description('FHIR base URL the pipeline writes to.')
output fhirServerUrl string = fhirServerUrl

@description('Storage account of the function app (host, task hub, mappings, dead letters).')
output storageAccountName string = storage.name

@description('Blob container for mappings (used when mappingSource is blob).')
output mappingsContainerName string = mappingsContainer.name

@description('Application Insights resource name.')
output applicationInsightsName string = appInsights.name

@description('Resource group of the deployment.')
output resourceGroupName string = resourceGroup().name
